"""Arguments and results shown to operators are escaped, and secret-looking values masked."""

import datetime as dt

import pytest

from monitoring.selectors import MASK, text_mask, value_display, value_mask
from tests.monitoring._taskresults import task_result

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_values_of_secret_looking_keys_are_masked_at_any_depth_and_in_any_case():
    value = {
        "api_key": "s3cr3t",
        "Password": "hunter2",
        "nested": {"Authorization": "Bearer abc", "items": [{"client_secret": "xyz"}]},
        "X-Auth-Token": "tok",
        "note": "keep me",
        "count": 3,
    }
    assert value_mask(value) == {
        "api_key": MASK,
        "Password": MASK,
        "nested": {"Authorization": MASK, "items": [{"client_secret": MASK}]},
        "X-Auth-Token": MASK,
        "note": "keep me",
        "count": 3,
    }


def test_json_and_python_reprs_inside_strings_are_masked_too():
    assert value_mask('{"token": "abc", "a": 1}') == {"token": MASK, "a": 1}
    assert value_mask("{'password': 'pw', 'b': [1, 2]}") == {"password": MASK, "b": [1, 2]}


def test_text_that_cannot_be_parsed_is_masked_by_pattern():
    text = "failed with api_key='s3cr3t' and password=hunter2, token: \"t0k\" user=bob"
    masked = text_mask(text)
    assert "s3cr3t" not in masked and "hunter2" not in masked and "t0k" not in masked
    assert "user=bob" in masked
    assert f"api_key={MASK}" in masked


def test_empty_secret_values_stay_empty_so_operators_see_they_were_missing():
    assert value_mask({"token": "", "password": None}) == {"token": "", "password": None}


def test_value_display_is_indented_json_with_sorted_keys():
    assert value_display({"b": 1, "a": {"secret": "x"}}) == (
        '{\n  "a": {\n    "secret": "********"\n  },\n  "b": 1\n}'
    )


@pytest.mark.django_db
def test_the_detail_page_masks_a_key_and_escapes_markup(client, staff_user):
    row = task_result(
        created=NOW,
        kwargs={"api_key": "s3cr3t", "note": "<script>"},
        args=("<b>bold</b>",),
        result={"deliveries": [{"authorization": "Bearer zzz", "body": "<img src=x>"}]},
        traceback="ValueError: bad token='tok123' for <tag>",
    )
    client.force_login(staff_user)
    response = client.get(f"/ops/tasks/{row.task_id}/")
    text = response.content.decode()
    assert response.status_code == 200
    for secret in ("s3cr3t", "Bearer zzz", "tok123"):
        assert secret not in text
    assert "&quot;api_key&quot;: &quot;********&quot;" in text
    assert "&lt;script&gt;" in text and "<script>" not in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "&lt;img src=x&gt;" in text and "<img" not in text
    assert "&lt;tag&gt;" in text


@pytest.mark.django_db
def test_the_dead_letter_page_masks_and_escapes(client, staff_user):
    from monitoring.models import DeadLetter

    letter = DeadLetter.objects.create(
        task_id="dl-1",
        task_name="alerts.deliver",
        args=[1],
        kwargs={"webhook_secret": "whsec", "note": "<script>"},
        exception_type="DeliveryError",
        exception="refused password=pw1 <html>",
        traceback="Traceback\nDeliveryError: refused password=pw1",
    )
    client.force_login(staff_user)
    text = client.get(f"/ops/dead-letters/{letter.pk}/").content.decode()
    assert "whsec" not in text and "pw1" not in text
    assert "&lt;script&gt;" in text and "<script>" not in text
    assert "&lt;html&gt;" in text
