import pytest

from leango.oci.canonical import canonical_json


def test_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == \
        '{"a":[1,{"c":null,"d":"é"}],"b":1}'.encode()


def test_key_order_does_not_matter():
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


def test_nan_is_refused():
    with pytest.raises(ValueError):
        canonical_json({"n": float("nan")})
