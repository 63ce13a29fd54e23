import numpy as np
import pytest

from vectors.index.errors import InvalidVectorError
from vectors.index.vector_math import as_matrix, normalized, resized


def test_as_matrix_reports_expected_and_found():
    with pytest.raises(InvalidVectorError) as err:
        as_matrix([1.0, 2.0, 3.0], 4)
    assert (err.value.expected, err.value.found) == (4, 3)


@pytest.mark.parametrize("bad", [[1.0, float("nan")], [float("inf"), 0.0], ["a", 1.0]])
def test_as_matrix_rejects_non_finite_and_non_numbers(bad):
    with pytest.raises(InvalidVectorError):
        as_matrix(bad, 2)


def test_as_matrix_rejects_ragged_lists():
    with pytest.raises(InvalidVectorError):
        as_matrix([[1.0, 2.0], [1.0]], 2)


def test_normalized_has_unit_rows_and_keeps_zero_rows():
    out = normalized(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)


def test_resized_pads_and_truncates():
    v = np.array([1, 2, 3], np.float32)
    assert resized(v, 5).tolist() == [1, 2, 3, 0, 0]
    assert resized(v, 2).tolist() == [1, 2]
