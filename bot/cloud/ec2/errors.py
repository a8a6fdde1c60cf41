"""AWS errors turned into what a squadron is told: a `LaunchError` reason and one sentence."""

from botocore.exceptions import BotoCoreError, ClientError

from bot.cloud.base import LaunchError

CAPACITY_CODES = frozenset({"InsufficientInstanceCapacity"})
LIMIT_CODES = frozenset(
    {"InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded"}
)
CONFIG_PREFIXES = ("InvalidLaunchTemplate", "InvalidAMIID", "InvalidParameter")
CONFIG_CODES = frozenset(
    {
        "UnauthorizedOperation",
        "AccessDenied",
        "AccessDeniedException",
        "ValidationException",
        "MissingParameter",
    }
)
NOT_FOUND_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def launch_error(
    error: ClientError | BotoCoreError, instance_type: str, region: str
) -> LaunchError:
    """The refusal to show for an error EC2 answered a launch with.

    Throttling and server errors reach here only after botocore's standard retries gave up, so
    they and unknown errors count as AWS being unavailable for now.
    """
    if isinstance(error, BotoCoreError):
        return _unavailable(region)
    code = error_code(error)
    if code in CAPACITY_CODES:
        return LaunchError(
            "capacity",
            f"AWS has no free {instance_type} servers in {region} right now; try again in a few "
            "minutes or pick another size.",
        )
    if code in LIMIT_CODES:
        return LaunchError(
            "limit",
            f"rr has reached its AWS limit for servers in {region}; try again when a server "
            "ends, or ask an operator to raise the limit.",
        )
    if code in CONFIG_CODES or code.startswith(CONFIG_PREFIXES):
        return LaunchError(
            "config",
            f"AWS refused rr's server configuration ({code}); an operator needs to fix rr's EC2 "
            "settings before servers can start.",
        )
    return _unavailable(region)


def _unavailable(region: str) -> LaunchError:
    return LaunchError(
        "unavailable", f"AWS did not start the server in {region}; try again in a few minutes."
    )
