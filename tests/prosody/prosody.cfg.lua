-- Candado's private Prosody, used by `cargo xtask run` and the test suites.
--
-- candado-harness renders this file into a private folder and starts `prosody -F --config <that file>`.
-- Placeholders: @DIR@ (the private folder), @DOMAIN@, @C2S_PORT@, @HTTP_PORT@, @RUN_AS_ROOT@.
-- Everything listens on 127.0.0.1 only, on free ports picked at start. Never use this for a real server:
-- it allows open registration and treats the plain WebSocket on loopback as secure.

pidfile = "@DIR@/prosody.pid"
data_path = "@DIR@/data"
certificates = "@DIR@/certs"
run_as_root = @RUN_AS_ROOT@

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_interfaces = { "127.0.0.1" }
c2s_ports = { @C2S_PORT@ }
s2s_ports = { }
http_interfaces = { "127.0.0.1" }
http_ports = { @HTTP_PORT@ }
https_ports = { }
https_interfaces = { }

log = {
    info = "@DIR@/prosody.log";
    error = "@DIR@/prosody.err";
}

authentication = "internal_hashed"
storage = "internal"

-- Loopback only: no TLS, and the WebSocket counts as secure so SASL PLAIN is offered too.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_websocket_secure = true

-- In-band registration (XEP-0077), unthrottled on loopback so tests can create accounts quickly.
allow_registration = true
min_seconds_between_registrations = 0
registration_whitelist = { "127.0.0.1", "::1" }
registration_throttle_max = 1000000

modules_enabled = {
    "roster"; "saslauth"; "disco"; "ping"; "carbons"; "register"; "websocket";
    "mam"; "smacks"; "blocklist"; "pep"; "private"; "vcard_legacy"; "time"; "version";
}
modules_disabled = { "s2s" }

VirtualHost "@DOMAIN@"

Component "conference.@DOMAIN@" "muc"

-- XEP-0363 uploads; URLs point at the loopback HTTP port (no TLS, test use only).
Component "upload.@DOMAIN@" "http_file_share"
    http_host = "127.0.0.1"
    http_external_url = "http://127.0.0.1:@HTTP_PORT@/"
    http_file_share_size_limit = 1024 * 1024
    http_file_share_daily_quota = 10 * 1024 * 1024
