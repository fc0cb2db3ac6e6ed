"""The authorisation server and sign-in (issue 5 parts 1 and 2): OAuth 2.0 / OpenID Connect
with SMART App Launch 2.x, citizen sign-in through a mobile identity verification stand-in,
staff accounts with TOTP.  Plain Python over the :class:`~khealth.auth.ports.AuthStore`
port; ``web`` adapts HTTP to it and ``store`` implements the port.  See docs/auth.md.
"""
