"""The fund's rules and their sources (DOMAIN §8), cited in every refusal."""

LEVERAGE_SOURCE = "P1 art.38; DOMAIN §8"
SPECIAL_ACCOUNT_SOURCE = "P1 art.37; DOMAIN §8"
TRIGGER_SOURCE = "P1 arts.20-21; DOMAIN §8"
LOSS_SOURCE = "P1 arts.8(3), 21; DOMAIN §8"
RECOVERY_SOURCE = "P1 art.40; DOMAIN §8"
