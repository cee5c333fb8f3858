"""Settings from the environment (prefix PIXELGATE_) and the YAML file of upstreams.

Environment variables configure the process (where to listen, which database, secrets);
the YAML file named by PIXELGATE_CONFIG declares providers, deployments and defaults.
With no YAML file the embedded default serves the sandbox model `sandbox-image`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pixelgate.billing.prices import Multiplier, PriceSpec

__all__ = [
    "ConfigError",
    "Defaults",
    "DeploymentConfig",
    "ExtendFamily",
    "ExtendV2Config",
    "GatewayConfig",
    "ProviderConfig",
    "RoutingConfig",
    "Settings",
    "TasksConfig",
    "Timeouts",
    "load_config",
]

SANDBOX_MODEL = "sandbox-image"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Settings(BaseSettings):
    """Process settings; every field can be set as PIXELGATE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="PIXELGATE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    database_url: str | None = None
    config: Path | None = None
    admin_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    public_url: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    max_images_per_request: int = 16
    auto_migrate: bool = True
    purge_interval_seconds: float = 600.0
    log_level: str = "info"
    # json: one JSON object per line (with the request id); text: for a terminal.
    log_format: Literal["json", "text"] = "json"
    workers: int = 1
    # How long a successful API-key lookup is trusted; bounds how late a revocation made
    # through another process takes effect. 0 = look every key up on every request.
    key_cache_seconds: float = Field(default=0.0, ge=0)
    # Where image bytes go: "local" (data_dir/images) or "s3" (PIXELGATE_S3_*, storage/s3.py).
    blob_store: Literal["local", "s3"] = "local"
    # The HTTP client for upstream calls (see core/upstream_client.py; chosen by bench/).
    upstream_client: Literal["aiohttp", "httpx"] = "aiohttp"
    # Bytes of upstream answers the gateway holds at once, from reading an answer to having
    # written the response, split evenly between the worker processes (core/answer_budget.py).
    # 64 MB kept bench/'s 2,000 answers of 1.5 MB arriving together under 500 MB in all.
    answer_memory_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    # Comma-separated networks added to the YAML's fetch.allow_networks.
    fetch_allow_networks: str = ""
    # Run the task worker inside `pixelgate serve` (false: only `pixelgate worker` runs it).
    run_worker: bool = True
    # Redis, shared by every gateway process (docs/deployment.md, "Redis"): per-key rate
    # limits and concurrency slots, task wake-ups, API-key cache invalidation. Unset: all of
    # that stays in the process (exact for one process). A secret: the URL may hold a password.
    redis_url: SecretStr | None = None
    # Prepended to every Redis key and channel, so several deployments can share one Redis.
    redis_prefix: str = Field(default="pixelgate:", min_length=1)
    # A concurrency slot's lease: renewed while its request runs, so a process that dies
    # holding slots gives them back this long after its last renewal.
    redis_slot_lease_seconds: float = Field(default=30.0, ge=3)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'pixelgate.db').resolve()}"

    @property
    def answer_budget_per_process(self) -> int:
        return self.answer_memory_bytes // max(1, self.workers)

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Strict):
    response_format: Literal["b64_json", "url"] = "b64_json"
    url_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    sandbox: bool = True
    # DashScope passthrough answers keep DashScope's own (24 h) image links unless this is
    # on, in which case the images are stored and served by the gateway's signed links.
    rehost_upstream_urls: bool = False


class Timeouts(_Strict):
    connect: float = Field(default=10.0, gt=0)
    read: float = Field(default=300.0, gt=0)
    total: float = Field(default=600.0, gt=0)


class ProviderConfig(_Strict):
    type: str
    base_url: str | None = None
    api_key: SecretStr | None = None
    # A credential pool: used in rotation; a key the upstream refuses (401/403) leaves it.
    api_keys: tuple[SecretStr, ...] = ()
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value


class DeploymentConfig(_Strict):
    model: str = Field(min_length=1)
    provider: str
    upstream_model: str | None = None
    aliases: tuple[str, ...] = ()
    # Lower tiers are tried first; inside a tier, deployments are picked by weight.
    priority: int = 0
    weight: int = Field(default=1, ge=1)
    # Overrides the provider's timeouts for this deployment.
    timeouts: Timeouts | None = None

    # Region tags (e.g. [global], [cn]); the X-Pixelgate-Region header selects among them.
    regions: tuple[str, ...] = ()
    # The model answers only requests that name a region (400 naming the header otherwise).
    region_required: bool = False

    @field_validator("regions")
    @classmethod
    def _lower_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(r.strip().lower() for r in value if r.strip())

    @property
    def target_model(self) -> str:
        return self.upstream_model or self.model


class RoutingConfig(_Strict):
    # Consecutive retryable failures that open a deployment's circuit.
    failure_threshold: int = Field(default=5, ge=1)
    # How long an open circuit refuses calls before one half-open probe is let through.
    cooldown_seconds: float = Field(default=30.0, gt=0)
    # Total time one request may spend across all the deployments it tries.
    request_deadline_seconds: float = Field(default=900.0, gt=0)


class FetchConfig(_Strict):
    # Networks the gateway may fetch client-supplied URLs from even though they are not
    # public (e.g. "10.20.0.0/16" for an internal image store). Empty by default.
    allow_networks: tuple[str, ...] = ()

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value


class TasksConfig(_Strict):
    """Durable tasks (async requests and task-based upstreams); see docs/tasks.md."""

    # A task not finished after this long fails (and its reservation is released).
    timeout_seconds: float = Field(default=1800.0, gt=0)
    # How long a sync request to a task-based upstream waits before answering
    # `status: "pending"` with a poll_url.
    sync_wait_seconds: float = Field(default=90.0, ge=0)
    # Upstream polling: the first delay, growing by half each poll up to the maximum.
    poll_initial_seconds: float = Field(default=1.0, gt=0)
    poll_max_seconds: float = Field(default=15.0, gt=0)
    # A worker's claim on a task; renewed while it works, so a crashed worker's tasks are
    # resumed by another one this long after the crash.
    lease_seconds: float = Field(default=60.0, gt=0)
    # How often a worker looks for due tasks (it is also woken when one is created here).
    scan_interval_seconds: float = Field(default=1.0, gt=0)
    # Tasks one worker process handles at once.
    concurrency: int = Field(default=32, ge=1)
    # Submits that failed with a retryable error (rate limits excepted) before the task fails.
    max_submit_attempts: int = Field(default=5, ge=1)
    # How often a waiting sync request checks for a task finished by another process.
    wait_recheck_seconds: float = Field(default=2.0, gt=0)
    # Webhooks (`callback_url`): attempts and the first retry delay (doubling, ≤ 10 min).
    webhook_max_attempts: int = Field(default=6, ge=1)
    webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)


class ExtendFamily(_Strict):
    """The model (as `deployments` name it) that serves one /v2/extend/image family;
    `models` maps model names a client may send (Gemini family) to configured models."""

    model: str = SANDBOX_MODEL
    models: dict[str, str] = Field(default_factory=dict)


class ExtendV2Config(_Strict):
    seedream: ExtendFamily = Field(default_factory=ExtendFamily)
    gemini: ExtendFamily = Field(default_factory=ExtendFamily)
    gpt_image: ExtendFamily = Field(default_factory=ExtendFamily)


class GatewayConfig(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    extend_v2: ExtendV2Config = Field(default_factory=ExtendV2Config)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    deployments: tuple[DeploymentConfig, ...] = ()
    # Billing (docs/billing.md): per-model prices over the shipped ones, key-group multipliers.
    prices: dict[str, PriceSpec] = Field(default_factory=dict)
    groups: dict[str, Multiplier] = Field(default_factory=dict)


class ConfigError(Exception):
    """A configuration problem; the message names the file, the key and the problem."""


def _expand(value: Any, path: str, source: str) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(f"{source}: key {path}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k), source) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{path}[{i}]", source) for i, v in enumerate(value)]
    return value


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _with_sandbox(cfg: GatewayConfig) -> GatewayConfig:
    if not cfg.defaults.sandbox or any(d.model == SANDBOX_MODEL for d in cfg.deployments):
        return cfg
    providers = dict(cfg.providers)
    providers.setdefault("sandbox", ProviderConfig(type="sandbox"))
    sandbox_name = next(n for n, p in providers.items() if p.type == "sandbox")
    deployments = (*cfg.deployments, DeploymentConfig(model=SANDBOX_MODEL, provider=sandbox_name))
    return cfg.model_copy(update={"providers": providers, "deployments": deployments})


def load_config(path: Path | None, known_provider_types: frozenset[str]) -> GatewayConfig:
    """Load and validate the YAML file (or the embedded default when `path` is None)."""
    if path is None:
        return _with_sandbox(GatewayConfig())
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{source}: key (top level): not valid YAML: {problem}{where}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: key (top level): expected a mapping")
    data = _expand(raw, "", source)
    try:
        cfg = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{source}: key {_loc(first['loc'])}: {first['msg']}") from None
    for name, provider in cfg.providers.items():
        if provider.type not in known_provider_types:
            known = ", ".join(sorted(known_provider_types))
            raise ConfigError(
                f"{source}: key providers.{name}.type: unknown provider type "
                f"{provider.type!r} (known: {known})"
            )
    names: dict[str, str] = {}
    for i, dep in enumerate(cfg.deployments):
        if dep.provider not in cfg.providers:
            raise ConfigError(
                f"{source}: key deployments[{i}].provider: no provider named {dep.provider!r}"
            )
        # Several deployments may serve one model (regions, failover); a name may not
        # stand for two different models.
        for name in (dep.model, *dep.aliases):
            if names.setdefault(name, dep.model) != dep.model:
                raise ConfigError(
                    f"{source}: key deployments[{i}].aliases: {name!r} already names "
                    f"model {names[name]!r}"
                )
    return _with_sandbox(cfg)
