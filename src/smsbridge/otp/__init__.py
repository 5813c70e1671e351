"""One-time passcodes sent by SMS (The SMS Works' /otp operations)."""
