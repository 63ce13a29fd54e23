"""DJANGO_TIME_ZONE: the operator's time zone, an IANA name checked at start-up."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from cadml_site.env import env_time_zone


def test_a_valid_name_is_taken_and_unset_means_the_default():
    assert env_time_zone("TZ_X", "UTC", environ={"TZ_X": "Europe/Paris"}) == "Europe/Paris"
    assert env_time_zone("TZ_X", "UTC", environ={}) == "UTC"


@pytest.mark.parametrize("value", ["Mars/Olympus", "CEST+2", "../etc/passwd"])
def test_an_unknown_name_stops_the_start(value):
    with pytest.raises(ImproperlyConfigured, match="TZ_X must be an IANA time zone name"):
        env_time_zone("TZ_X", "UTC", environ={"TZ_X": value})
