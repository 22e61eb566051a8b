"""Request and response bodies (they also document the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Every integer a client sends is bounded: an unbounded one (2**64 and beyond) reached the
# database and answered 500; now it is a 422 naming the field. Ids match the path's bound.
MAX_ID = 2**62
MAX_CENTS = 10**12
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    category: str = Field(default="", max_length=50)
    price_cents: int = Field(ge=0, le=10**9)
    stock: int = Field(default=0, ge=0, le=10**7)


class ProductPatch(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    category: str | None = Field(default=None, max_length=50)
    price_cents: int | None = Field(default=None, ge=0, le=10**9)
    stock: int | None = Field(default=None, ge=0, le=10**7)


class ProductOut(BaseModel):
    id: int
    name: str
    description: str
    category: str
    price_cents: int
    stock: int
    updated_at: float


class ListingOut(BaseModel):
    page: int
    size: int
    items: list[ProductOut]


class LoginIn(_Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    session_id: str
    token: str
    token_type: str = "Bearer"
    expires_at: float


class CheckoutIn(_Strict):
    product_id: Id
    quantity: int = Field(default=1, ge=1, le=100)


class WebhookIn(_Strict):
    id: Id


class SwitchesIn(_Strict):
    read_only: bool | None = None
    serve_stale: bool | None = None
    disabled_features: list[str] | None = None


class PaymentConfigIn(_Strict):
    failure_rate: float | None = Field(default=None, ge=0, le=1)
    latency_ms: float | None = Field(default=None, ge=0, le=60_000)


class ChargeIn(_Strict):
    amount_cents: int = Field(ge=0, le=MAX_CENTS)
    reference: str = Field(min_length=1, max_length=200)
