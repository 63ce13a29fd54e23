"""Python client of the CAD ML Platform API."""

from cadml_client.client import NO_RETRY, CadmlClient, RetryPolicy, parse_retry_after
from cadml_client.errors import CadmlError, ProblemError
from cadml_client.operations import OPERATIONS, Operation

__all__ = ["NO_RETRY", "OPERATIONS", "CadmlClient", "CadmlError", "Operation", "ProblemError", "RetryPolicy",
           "parse_retry_after"]
__version__ = "0.1.0"
