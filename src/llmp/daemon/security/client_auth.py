"""Recognising a client from its credential: a static client key or a JWT.

Client keys are looked up by their SHA-256 digest, so the comparison time does
not depend on how much of a guess matches. Keys come from the environment
(`LLMP_CLIENT_KEY_<NAME>`), the keyring (`client:<name>`) or `env:VAR`, are
re-read on `reload()` (a key set while the daemon runs takes effect), and are
registered with the redactor like provider keys.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from llmp.core.config_schema import AuthConfig, ClientLimits
from llmp.core.keys import resolve_secret, secrets_read_together
from llmp.daemon.security.jwt_auth import JWTVerifier, TokenRejected, looks_like_jwt

log = logging.getLogger("llmp.security")


@dataclass(frozen=True)
class Client:
    id: str  # the client key's name, or `jwt:<sub>`
    limits: ClientLimits


class AuthFailure(Exception):
    """No acceptable credential; the message is safe to show the client."""


def client_key_username(name: str) -> str:
    return f"client:{name}"


def client_key_env(name: str) -> str:
    return "LLMP_CLIENT_KEY_" + name.upper().replace("-", "_")


JWT_SECRET_USERNAME = "jwt-secret"
JWT_SECRET_ENV = "LLMP_JWT_SECRET"


def credential(headers: object) -> str | None:
    """The client's key from `Authorization: Bearer …` or `x-api-key`."""
    get = headers.get  # type: ignore[attr-defined]
    scheme, _, value = str(get("Authorization", "")).partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = str(get("x-api-key", "")).strip()
    return key or None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class ClientAuth:
    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self.enabled = config.enabled  # asked on every request; the config never changes here
        self._keys: dict[bytes, Client] = {}
        self._jwt: JWTVerifier | None = None
        self.reload()

    def reload(self) -> None:
        jwt_config = self.config.jwt
        #: What `resolve_secret` takes for each client key, and for the JWT secret.
        wanted = {name: (spec.key, client_key_username(name), (client_key_env(name),))
                  for name, spec in self.config.keys.items()}
        jwt_secret = (jwt_config.secret, JWT_SECRET_USERNAME, (JWT_SECRET_ENV,)) if jwt_config else None
        with secrets_read_together([*wanted.values(), *([jwt_secret] if jwt_secret else [])]):
            self._read(wanted, jwt_secret)

    def _read(self, wanted: dict[str, tuple[str, str, tuple[str, ...]]],
              jwt_secret: tuple[str, str, tuple[str, ...]] | None) -> None:
        keys: dict[bytes, Client] = {}
        for name, secret_spec in wanted.items():
            found = resolve_secret(*secret_spec)
            if found.value:
                keys[_digest(found.value)] = Client(name, self.config.keys[name])
            else:
                log.warning("client key '%s' has no value (set it with: llmp keys set client:%s)",
                            name, name)
        verifier: JWTVerifier | None = None
        if self.config.jwt is not None and jwt_secret is not None:
            secret = resolve_secret(*jwt_secret)
            if secret.value:
                verifier = JWTVerifier(self.config.jwt, secret.value)
            else:
                log.warning("server.auth.jwt has no secret (set it with: llmp keys set jwt-secret)")
        # Swapped whole, once both are read: this runs off the event loop, beside requests.
        self._keys, self._jwt = keys, verifier

    def authenticate(self, headers: object) -> Client:
        token = credential(headers)
        if token is None:
            raise AuthFailure("this gateway needs a client key: send 'Authorization: Bearer <key>'")
        client = self._keys.get(_digest(token))
        if client is not None:
            return client
        if self._jwt is not None and looks_like_jwt(token):
            try:
                claims = self._jwt.verify(token)
            except TokenRejected as exc:
                raise AuthFailure(str(exc)) from None
            subject = claims.get("sub")
            name = subject if isinstance(subject, str) else "anonymous"
            return Client(f"jwt:{name}", self._jwt.config)
        raise AuthFailure("the client key is not valid")
