"""Bearer JWTs for teams: HS256 only, with `exp` and `aud` required and checked.

The algorithm list is fixed so a token cannot choose `none` or switch to a
public-key algorithm with the secret as the "key". PyJWT does the checking.

PyJWT is imported when a verifier is made, not with this module: it brings
`cryptography` along (about 10 MiB of resident memory), which a daemon without
`server.auth.jwt` never needs.
"""

from __future__ import annotations

from typing import Any

from llmp.core.config_schema import JWTConfig


class TokenRejected(Exception):
    """The token is not acceptable; the message says why without echoing it."""


class JWTVerifier:
    def __init__(self, config: JWTConfig, secret: str) -> None:
        import jwt

        self.config = config
        self._secret = secret
        self._jwt = jwt

    def verify(self, token: str) -> dict[str, Any]:
        jwt = self._jwt
        try:
            return jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway,
                options={"require": ["exp", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("the token is not meant for this gateway (aud)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"the token has no '{exc.claim}' claim") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("the token's issuer is not accepted (iss)") from None
        except (jwt.InvalidTokenError, ValueError):  # ValueError: bytes no token holds (non-ASCII)
            raise TokenRejected("the token is not valid") from None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")
