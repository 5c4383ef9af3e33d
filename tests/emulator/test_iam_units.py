"""Issue 22 units: EMULATOR_IAM's modes, role sessions renewed before expiry, the least-privilege policy's shape."""

from datetime import UTC, datetime, timedelta

import pytest

from emulator.aws.iam import RENEW_BEFORE, SESSION_SECONDS, RoleSessions, iam_mode
from emulator.errors import ConfigError
from emulator.iam_policy import CallLog, calls_file, least_privilege_policy, read_calls

ROLE = "arn:aws:iam::123456789012:role/unit-role"


def test_the_mode_is_warn_unless_set_and_anything_else_is_refused():
    assert iam_mode({}) == "warn"
    assert iam_mode({"EMULATOR_IAM": "Enforce"}) == "enforce"
    with pytest.raises(ConfigError, match="warn, enforce, off"):
        iam_mode({"EMULATOR_IAM": "strict"})


def test_a_session_is_reused_until_an_hour_before_it_expires_then_renewed():
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    sessions = RoleSessions(now=lambda: now[0])
    first = sessions.credentials(ROLE, "fn", "123456789012", "us-east-1")
    assert sessions.credentials(ROLE, "fn", "123456789012", "us-east-1") == first
    assert set(first) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert sessions.session_of(first["AWS_ACCESS_KEY_ID"]).function_name == "fn"
    now[0] += timedelta(seconds=SESSION_SECONDS) - RENEW_BEFORE + timedelta(seconds=1)
    assert sessions.credentials(ROLE, "fn", "123456789012", "us-east-1") != first
    assert sessions.credentials(ROLE, "other-fn", "123456789012", "us-east-1")["AWS_ACCESS_KEY_ID"] \
        != first["AWS_ACCESS_KEY_ID"]


def test_the_policy_groups_actions_by_resources_and_keeps_resources_as_narrow_as_the_calls():
    calls = [("s3:PutObject", "arn:aws:s3:::out/frames/a/0.png"), ("s3:PutObject", "arn:aws:s3:::out/frames/b/1.png"),
             ("s3:GetObject", "arn:aws:s3:::in/videos/x.mp4"), ("s3:GetObject", "arn:aws:s3:::in/x"),
             ("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/students"),
             ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:results.fifo"),
             ("sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:123456789012:results.fifo")]
    assert least_privilege_policy(calls)["Statement"] == [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem"],
         "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/students"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::in/videos/*", "arn:aws:s3:::in/x"]},
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::out/frames/*"]},
        {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"],
         "Resource": ["arn:aws:sqs:us-east-1:123456789012:results.fifo"]},
    ]


def test_calls_on_new_objects_of_a_known_folder_add_nothing_to_the_call_log(tmp_path):
    calls = CallLog(tmp_path)
    for index in range(1_000):  # one new key per event, as the frame extractor writes them
        calls.record("123456789012", "fn", "s3:PutObject", f"arn:aws:s3:::out/frames/dev/{index}/0.png")
        calls.record("123456789012", "fn", "logs:PutLogEvents",
                     f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:log-stream:{index}")
    calls.record("123456789012", "fn", "s3:GetObject", "arn:aws:s3:::in/x")
    assert read_calls(calls_file(tmp_path, "123456789012", "fn")) == [
        ("s3:PutObject", "arn:aws:s3:::out/frames/*"),
        ("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*"),
        ("s3:GetObject", "arn:aws:s3:::in/x")]
