"""The preflight's secrets item: with a KMS master key, a data key is made and unwrapped again
under a probe context, as rr does for a squadron (nothing is stored)."""

from botocore.exceptions import BotoCoreError, ClientError

from bot.cloud.ec2.errors import error_code
from bot.config import Settings
from bot.preflight.findings import Finding, aws_failure, failed, passed
from bot.secrets.masters import CannotOpen
from bot.secrets.open import open_master_key

PROBE_SQUADRON = "preflight"


async def secrets_key(settings: Settings) -> Finding:
    url = settings.secrets_key
    if not url.startswith("kms://"):
        return passed("secrets key", "a key file on this machine: keep it backed up")
    item = f"secrets key {url.partition('?')[0]}"
    try:
        master = await open_master_key(url)
    except ValueError as error:
        return failed(item, f"{error} (RR_SECRETS_KEY)")
    action = "kms:GenerateDataKey"
    try:
        made = await master.new_data_key(PROBE_SQUADRON)
        action = "kms:Decrypt"
        unwrapped = await master.unwrap(PROBE_SQUADRON, made.wrapped)
    except CannotOpen:
        return failed(item, "KMS made a data key it will not unwrap; check the key's policy.")
    except ClientError as error:
        if error_code(error) in ("NotFoundException", "DisabledException"):
            return failed(
                item, "the key does not exist or is disabled; set RR_SECRETS_KEY to the stack's."
            )
        return aws_failure(item, error, action)
    except BotoCoreError as error:
        return aws_failure(item, error, action)
    if unwrapped != made.plaintext:
        return failed(item, "KMS unwrapped another key than it made.")
    return passed(item, "a data key was made and unwrapped (nothing stored)")
