"""Settings from the environment and `.env`, with an embedded default for everything but secrets.

Names start with ``RR_`` except the well-known ones other tools share (DISCORD_TOKEN,
DISCORD_GUILD_ID, STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET). A section is a nested model whose
variables carry the section's name: ``pricing.small_cents_per_hour`` is
``RR_PRICING_SMALL_CENTS_PER_HOUR``. Lists are comma-separated (``RR_OPERATOR_IDS=1,2``).
AWS credentials and region are boto3's own ``AWS_*`` variables: they are not settings here, but
`export_aws_environment` passes any found in `.env` on to boto3.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "RR_"
SECTION_DELIMITER = "_"
DEFAULT_ENV_FILE = ".env"
_T = TypeVar("_T")


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _matching(pattern: str, expected: str) -> AfterValidator:
    """A pattern check whose error says in words what is expected."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"expected {expected}")
        return value

    return AfterValidator(check)


BlankIsNone = Annotated[_T | None, BeforeValidator(_blank_is_none)]
"""An optional setting, left unset by an empty (or blank) variable."""
DiscordId = Annotated[str, _matching(r"[0-9]{15,20}", "a Discord id (15 to 20 digits)")]

OptionalDiscordId = BlankIsNone[DiscordId]
OptionalSecret = BlankIsNone[SecretStr]
Minutes = Annotated[int, Field(ge=1)]
MinuteList = Annotated[tuple[Minutes, ...], BeforeValidator(_comma_separated)]
InstanceType = Annotated[
    str, _matching(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an EC2 instance type such as i3en.large")
]


class PricingSettings(BaseModel):
    """What a server-hour costs per instance size, in the smallest unit of ``currency``."""

    small_cents_per_hour: int = Field(default=100, ge=0)
    medium_cents_per_hour: int = Field(default=200, ge=0)
    large_cents_per_hour: int = Field(default=400, ge=0)
    currency: Annotated[str, _matching(r"[a-z]{3}", "a three-letter currency code such as usd")] = (
        "usd"
    )

    @property
    def rates_cents_per_hour(self) -> dict[str, int]:
        return {
            "small": self.small_cents_per_hour,
            "medium": self.medium_cents_per_hour,
            "large": self.large_cents_per_hour,
        }


class LimitsSettings(BaseModel):
    """Booking rules every squadron gets."""

    min_duration_minutes: Minutes = 30
    max_duration_minutes: Minutes = Field(default=12 * 60, validate_default=True)
    booking_horizon_days: int = Field(default=60, ge=1)
    max_concurrent_per_guild: int = Field(default=2, ge=1)
    min_extension_minutes: Minutes = 15

    @field_validator("max_duration_minutes")
    @classmethod
    def _not_below_minimum(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_duration_minutes")
        if minimum is not None and value < minimum:
            raise ValueError(f"expected at least RR_LIMITS_MIN_DURATION_MINUTES ({minimum})")
        return value


class ScheduleSettings(BaseModel):
    """When the scheduler reminds, launches, warns, probes and terminates."""

    reminder_offsets_minutes: MinuteList = (24 * 60, 60, 15)
    boot_lead_minutes: Minutes = 30
    """How early a booked server is launched until enough boots of its size and region are
    measured; then the measured lead, kept between the floor and the ceiling."""
    boot_lead_floor_minutes: Minutes = 10
    boot_lead_ceiling_minutes: Minutes = 40
    end_warnings_minutes: MinuteList = (15, 5)
    low_credit_warning_minutes: Minutes = 10
    readiness_timeout_minutes: Minutes = 40
    readiness_probe_seconds: int = Field(default=30, ge=1)
    terminate_retry_seconds: int = Field(default=60, ge=1)
    graceful_end_seconds: int = Field(default=120, ge=1)
    backstop_grace_minutes: Minutes = Field(default=15, ge=1, validate_default=True)
    ended_retention_hours: float = Field(default=24.0, gt=0)
    """How long the bot keeps an ended or cancelled session in memory (``/server list``)."""

    @model_validator(mode="after")
    def _boot_lead_within_its_bounds(self) -> "ScheduleSettings":
        floor, lead, ceiling = (
            self.boot_lead_floor_minutes,
            self.boot_lead_minutes,
            self.boot_lead_ceiling_minutes,
        )
        if not floor <= lead <= ceiling:
            raise ValueError(
                f"expected RR_SCHEDULE_BOOT_LEAD_FLOOR_MINUTES ({floor}) <= "
                f"RR_SCHEDULE_BOOT_LEAD_MINUTES ({lead}) <= "
                f"RR_SCHEDULE_BOOT_LEAD_CEILING_MINUTES ({ceiling})"
            )
        return self

    @field_validator("backstop_grace_minutes")
    @classmethod
    def _backstop_after_graceful_end(cls, value: int, info: ValidationInfo) -> int:
        """The backstop is the hard limit: it must leave a server its whole graceful end."""
        wait = info.data.get("graceful_end_seconds")
        if wait is not None and value * 60 <= wait:
            raise ValueError(
                f"expected longer than RR_SCHEDULE_GRACEFUL_END_SECONDS ({wait} seconds), so "
                "that the backstop never cuts a graceful end short"
            )
        return value


Terrain = Annotated[
    str, _matching(r"[A-Za-z0-9_-]{1,64}", "terrain names as missions give them, such as Caucasus")
]
WindowsPath = Annotated[
    str, _matching(r"[A-Za-z]:\\[ !#-&(-~]*", "a Windows path such as C:\\Program Files\\...")
]


class Ec2Settings(BaseModel):
    """The AWS EC2 compute provider (RR_COMPUTE=ec2); region and credentials are boto3's own.

    Instance types default to i3/i3en: local NVMe instance store (EBS restored from snapshots
    loads lazily and made DCS stutter) and 15-32 GiB of memory; see README "EC2 servers".
    """

    launch_template_id: BlankIsNone[
        Annotated[str, _matching(r"lt-[0-9a-f]{8,17}", "a launch template id such as lt-0abc12345")]
    ] = None
    launch_template_name: BlankIsNone[
        Annotated[str, _matching(r"[A-Za-z0-9()./_-]{3,128}", "a launch template name")]
    ] = None
    launch_template_version: Annotated[
        str, _matching(r"\$Default|\$Latest|[1-9][0-9]*", "$Default, $Latest or a version number")
    ] = "$Default"
    image_id: BlankIsNone[
        Annotated[str, _matching(r"ami-[0-9a-f]{8,17}", "an AMI id such as ami-0abc12345")]
    ] = None
    small_instance_type: InstanceType = "i3.large"
    medium_instance_type: InstanceType = "i3en.large"
    large_instance_type: InstanceType = "i3en.xlarge"
    subnet_id: BlankIsNone[
        Annotated[str, _matching(r"subnet-[0-9a-f]{8,17}", "a subnet id such as subnet-0abc12345")]
    ] = None
    security_group_ids: Annotated[
        tuple[
            Annotated[str, _matching(r"sg-[0-9a-f]{8,17}", "security group ids such as sg-0abc1")],
            ...,
        ],
        BeforeValidator(_comma_separated),
    ] = ()
    key_name: BlankIsNone[str] = None
    instance_profile: BlankIsNone[
        Annotated[
            str,
            _matching(
                r"[A-Za-z0-9+=,.@_-]{1,128}|arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/[ -~]+",
                "an instance profile name or ARN",
            ),
        ]
    ] = None
    spot: bool = False
    backstop_role_arn: BlankIsNone[
        Annotated[
            str,
            _matching(
                r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+", "an IAM role ARN"
            ),
        ]
    ] = None
    login_parameters: Annotated[
        tuple[
            Annotated[
                str, _matching(r"[A-Za-z0-9_./-]{1,1011}", "SSM parameter names such as /rr/ed/1")
            ],
            ...,
        ],
        BeforeValidator(_comma_separated),
    ] = ()
    write_folder: Annotated[
        str, _matching(r"[A-Za-z0-9_.-]{1,64}", "a folder name such as DCS.dcs_serverrelease")
    ] = "DCS.dcs_serverrelease"
    dcs_install_dir: WindowsPath = "C:\\Program Files\\Eagle Dynamics\\DCS World Server"
    srs_server_exe: WindowsPath = (
        "C:\\Program Files\\DCS-SimpleRadio-Standalone\\ServerCommandLine-Windows\\"
        "SRS-Server-Commandline.exe"
    )
    login_helper: WindowsPath = "C:\\rr\\ed-login.ps1"

    @property
    def instance_types(self) -> dict[str, str]:
        return {
            "small": self.small_instance_type,
            "medium": self.medium_instance_type,
            "large": self.large_instance_type,
        }


class FilesSettings(BaseModel):
    """Squadrons' files (missions, debriefs): where they live and how much each may keep."""

    store: Annotated[
        str, _matching(r"(file|s3)://.+", "a URL starting file:// (a folder) or s3://BUCKET")
    ] = "file://./var/files"
    signing_key: OptionalSecret = None
    mission_max_mb: int = Field(default=100, ge=1)
    mission_quota_count: int = Field(default=50, ge=1)
    mission_quota_mb: int = Field(default=1000, ge=1)
    debrief_max_mb: int = Field(default=500, ge=1)
    debrief_days: int = Field(default=7, ge=1, le=7)

    @field_validator("signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("expected at least 32 characters")
        return value


class Settings(BaseSettings):
    """Everything rr reads from its environment; add a section as a nested model field."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        env_nested_delimiter=SECTION_DELIMITER,
        env_nested_max_split=1,
        enable_decoding=False,
        extra="ignore",
        frozen=True,
    )

    event_store: Annotated[
        str,
        _matching(
            r"(memory|sqlite|dynamodb)://.*", "a URL starting memory://, sqlite:/// or dynamodb://"
        ),
    ] = "sqlite:///./var/rr.db"
    secrets_key: Annotated[
        str, _matching(r"(file|kms)://.+", "a URL starting file:// or kms://")
    ] = "file://./var/secrets.key"
    secrets_key_table: Path = Path("var/squadron-keys.json")
    compute: Literal["local", "ec2"] = "local"
    deployment: Annotated[
        str, _matching(r"[a-z0-9][a-z0-9-]{0,31}", "up to 32 lower-case letters, digits and dashes")
    ] = "dev"
    web_host: str = Field(default="127.0.0.1", min_length=1)
    web_port: int = Field(default=8080, ge=0, le=65535)
    public_url: BlankIsNone[HttpUrl] = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    local_instances_dir: Path = Path("var/local-instances")
    sandbox_time_scale: float = Field(default=1.0, gt=0, le=3600)
    sandbox_payments: bool = False
    local_retention_hours: float = Field(default=24.0, ge=0)
    operator_ids: Annotated[tuple[DiscordId, ...], BeforeValidator(_comma_separated)] = ()
    operator_guild_id: OptionalDiscordId = None
    installed_terrains: Annotated[tuple[Terrain, ...], BeforeValidator(_comma_separated)] = (
        "Caucasus",
        "MarianaIslands",
    )

    discord_token: OptionalSecret = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN")
    )
    discord_guild_id: OptionalDiscordId = Field(
        default=None, validation_alias=AliasChoices("DISCORD_GUILD_ID")
    )
    stripe_api_key: OptionalSecret = Field(
        default=None, validation_alias=AliasChoices("STRIPE_API_KEY")
    )
    stripe_webhook_secret: OptionalSecret = Field(
        default=None, validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET")
    )

    pricing: PricingSettings = PricingSettings()
    limits: LimitsSettings = LimitsSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    ec2: Ec2Settings = Ec2Settings()
    files: FilesSettings = FilesSettings()

    @field_validator("sandbox_time_scale")
    @classmethod
    def _real_time_for_real_servers(cls, value: float, info: ValidationInfo) -> float:
        if value != 1 and info.data.get("compute") == "ec2":
            raise ValueError(
                "expected 1 with RR_COMPUTE=ec2, because real servers and their termination "
                "schedules run on real time"
            )
        return value

    @model_validator(mode="after")
    def _no_free_credit_by_mistake(self) -> "Settings":
        """Real Discord takes real payments unless the operator opts in to the sandbox checkout,
        whose Pay button gives credit (and so servers) for nothing."""
        keys = [self.stripe_api_key, self.stripe_webhook_secret]
        if any(keys) and not all(keys):
            missing = "STRIPE_WEBHOOK_SECRET" if self.stripe_api_key else "STRIPE_API_KEY"
            raise ValueError(
                f"STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET go together: set {missing} too, "
                "or remove the other"
            )
        if self.sandbox_payments and all(keys):
            raise ValueError(
                "RR_SANDBOX_PAYMENTS=true cannot run with STRIPE_API_KEY and "
                "STRIPE_WEBHOOK_SECRET set: remove the Stripe keys or RR_SANDBOX_PAYMENTS"
            )
        if self.discord_token is not None and not all(keys) and not self.sandbox_payments:
            raise ValueError(
                "With DISCORD_TOKEN set, set STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET for real "
                "payments, or RR_SANDBOX_PAYMENTS=true to let anyone buy credit for free on the "
                "sandbox checkout"
            )
        return self

    @property
    def sandbox_payments_in_discord(self) -> bool:
        """The sandbox checkout serves real Discord members (the operator opted in)."""
        return self.discord_token is not None and self.sandbox_payments

    def base_url(self, bound_port: int) -> str:
        """Where people and Stripe reach the web app: RR_PUBLIC_URL, else the bound address."""
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        host = f"[{self.web_host}]" if ":" in self.web_host else self.web_host  # IPv6
        return f"http://{host}:{bound_port}"

    def secret_values(self) -> list[str]:
        """The clear text of every configured secret, for the log redactor."""
        return [secret.get_secret_value() for secret in _secrets(self) if secret.get_secret_value()]


class InvalidSettings(Exception):
    """Start-up cannot go on; ``str()`` is one line naming the setting and what is allowed."""


def load_settings(env_file: Path | str | None = DEFAULT_ENV_FILE) -> Settings:
    """Read the settings, or raise `InvalidSettings` with one line saying what to fix."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as error:
        raise InvalidSettings(_describe(error)) from None


def export_aws_environment(env_file: Path | str = DEFAULT_ENV_FILE) -> None:
    """Give boto3 the AWS_* variables written in `.env`; the real environment wins."""
    if not Path(env_file).is_file():
        return
    for name, value in dotenv_values(env_file).items():
        if name.startswith("AWS_") and value:
            os.environ.setdefault(name, value)


def env_names() -> list[str]:
    """Every variable the settings read, sections included."""
    names: list[str] = []
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names.extend(env_name((name, inner)) for inner in section.model_fields)
        elif isinstance(field.validation_alias, AliasChoices):
            names.append(str(field.validation_alias.choices[0]))
        else:
            names.append(env_name((name,)))
    return names


def env_name(location: tuple[int | str, ...]) -> str:
    """The variable a validation error location names, e.g. ("pricing", "currency")."""
    names = [part for part in location if isinstance(part, str)][:2]
    if names and names[0].isupper():
        return names[0]
    return ENV_PREFIX + SECTION_DELIMITER.join(names).upper()


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if not item["loc"]:  # a rule across settings: its message names them
            return f"Invalid settings: {message}."
        problems.append(f"{env_name(item['loc'])}: {message[0].lower()}{message[1:]}")
    label = "Invalid setting" if len(problems) == 1 else "Invalid settings"
    return f"{label} " + "; ".join(problems) + "."


def _secrets(model: BaseModel) -> Iterator[SecretStr]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value
        elif isinstance(value, BaseModel):
            yield from _secrets(value)
