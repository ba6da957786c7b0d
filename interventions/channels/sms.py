"""SMS: STRIDE_SMS_BACKEND, the console by default (it prints each text), Amazon SNS through
boto3 in production (`SnsBackend`: AWS credentials from the environment, AWS_SNS_REGION).

Texts go only to learners with a number and their consent, and by default only at critical
risk (STRIDE_SMS_RISK_LEVELS): a text is the loudest thing Stride can do.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from interventions.channels import ChannelUnavailable

# SNS refuses these for good: retrying cannot help.
_FINAL_ERRORS = {"InvalidParameter", "InvalidParameterValue", "OptedOut", "AuthorizationError"}


class ConsoleBackend:
    _ids = itertools.count(1)

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, *, to: str, text: str) -> str:
        self.stream.write(f"[sms] to {to}: {text}\n")
        return f"console-{next(self._ids)}"

    def close(self) -> None:
        self.stream.flush()


class SnsBackend:
    """One text per publish, as a transactional SMS; returns SNS's MessageId."""

    def __init__(self) -> None:
        import boto3

        self.client = boto3.client("sns", region_name=settings.AWS_SNS_REGION)

    def send(self, *, to: str, text: str) -> str:
        from botocore.exceptions import ClientError

        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if settings.STRIDE_SMS_SENDER_ID:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": settings.STRIDE_SMS_SENDER_ID,
            }
        try:
            answer = self.client.publish(PhoneNumber=to, Message=text, MessageAttributes=attributes)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _FINAL_ERRORS:
                raise ChannelUnavailable(f"SNS refused the text ({code}): {exc}") from exc
            raise
        return answer["MessageId"]

    def close(self) -> None:
        self.client.close()


def sms_backend() -> Any:
    return import_string(settings.STRIDE_SMS_BACKEND)()
