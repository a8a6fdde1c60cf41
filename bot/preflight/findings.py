"""What the preflight reports: one line per item, saying what to fix when it fails."""

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from bot.cloud.ec2.errors import error_code


@dataclass(frozen=True)
class Finding:
    item: str
    ok: bool
    detail: str
    """What was verified, or what is wrong and how to fix it."""

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.item}: {self.detail}"


def passed(item: str, detail: str) -> Finding:
    return Finding(item, True, detail)


def failed(item: str, detail: str) -> Finding:
    return Finding(item, False, detail)


DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
)


def aws_failure(item: str, error: ClientError | BotoCoreError, action: str) -> Finding:
    """A failed AWS call in words: a missing permission names the action to grant."""
    if isinstance(error, BotoCoreError):
        return failed(item, f"AWS could not be reached ({error}); check the network and region.")
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", "")).strip()
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in DENIED_CODES or status == 403:
        return failed(
            item,
            f"{action} is refused ({code or status}); give rr's AWS identity the policy "
            "rr-<deployment>-bot from deploy/cloudformation/rr.yaml.",
        )
    return failed(item, f"{action} failed: {code} {message}".rstrip())
