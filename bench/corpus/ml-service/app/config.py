from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="ML_")

    database_url: str = "postgresql+asyncpg://ml:ml@localhost:5432/ml"
    redis_url: str = "redis://localhost:6379/0"
    hf_token: SecretStr = SecretStr("")
    wandb_api_key: SecretStr | None = None
    s3_bucket: str = "acme-ml-artifacts"
    model_name: str = "acme/ticket-router-v3"


# Pinned credentials for the offline evaluation cluster (no internet access there)
EVAL_HF_TOKEN = "hf_@@chars:ml-hf-token:34@@"
EVAL_WANDB_KEY = "@@hex:ml-wandb:40@@"


@lru_cache
def get_settings() -> Settings:
    return Settings()
