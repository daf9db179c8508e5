"""The provider's quick-start programs against the sandbox, under several machine time zones.

The Python quick start (tests/seed_quickstart.py, transcribed from the seed
/work/shared/seed/quick-start.txt; only the base URL and credentials changed) schedules
``datetime.now() + 5 minutes`` as a *naive local* ISO time. The sandbox reads naive times
as Europe/Rome, so on a machine in UTC or New York that time lies in the past: by default
the sandbox sends the order at once (and notes it), as the documentation does not say the
gateway refuses it. Run as a subprocess over a real socket, once per ``TZ``.

The Perl and Node versions of the same page run where ``perl`` / ``node`` and the modules
they need (LWP::UserAgent + JSON; ``request``) are installed; otherwise they are skipped
with the reason (nothing is downloaded). Their texts below are transcribed from the seed
with the same changes (base URL and credentials from the environment) plus the gaps of
the web page filled in, each marked ``# filled:`` / ``// filled:``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_smsrest.testing.sandbox import SandboxServer, run_sandbox

SCRIPT = Path(__file__).with_name("seed_quickstart.py")


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox(username="seed-user", password="seed-pass-42", step=10.0) as server:
        yield server


def _env(sandbox: SandboxServer, tz: str) -> dict[str, str]:
    return {
        **os.environ,
        "SMSREST_BASE_URL": sandbox.base_url,
        "SMSREST_USERNAME": sandbox.username,
        "SMSREST_PASSWORD": sandbox.password,
        "TZ": tz,
    }


@pytest.mark.parametrize(
    ("tz", "scheduled"),
    [("UTC", False), ("Europe/Rome", True), ("America/New_York", False)],
)
def test_python_quick_start_sends_under_every_machine_zone(
    sandbox: SandboxServer, tz: str, scheduled: bool
) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=_env(sandbox, tz),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "SMS sent!"
    [order] = sandbox.orders()
    assert order["message"] == "Hello world!"
    states = [s["status"] for s in order["states"]]
    if scheduled:
        # Rome's wall time + 5 min read as Rome: five minutes ahead.
        assert states == ["SCHEDULED"]
        assert order["schedule_note"] is None
    else:
        # UTC / New York wall time read as Rome lies hours in the past: sent at once.
        assert states == ["WAITING"]
        assert order["scheduled_delivery_time"] is None
        assert "sent at once" in order["schedule_note"]
        sandbox.advance(10)
        assert [s["status"] for s in sandbox.orders()[0]["states"]] == ["SENT"]


def test_python_quick_start_under_utc_is_refused_with_strict_schedule(
    sandbox: SandboxServer,
) -> None:
    sandbox.configure(strict_schedule=True)

    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=_env(sandbox, "UTC"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    # The quick start does not check for None before reading the answer: it crashes.
    assert result.returncode != 0
    assert "SMS sent!" not in result.stdout
    assert sandbox.orders() == []


PERL_QUICK_START = r"""#!/usr/bin/env perl

use warnings;
use strict;
use LWP::UserAgent;

# Install using Cpan: "cpan JSON"
use JSON;

use constant BASEURL => $ENV{SMSREST_BASE_URL};
use constant MESSAGE_HIGH_QUALITY => "N";
use constant MESSAGE_MEDIUM_QUALITY => "L";
use constant MESSAGE_LOW_QUALITY => "LL";

sub authenticate($$$) {
    my ($ua, $username, $password) = @_;

    my $server_endpoint = BASEURL . "login?username=$username&password=$password";

    my $req = HTTP::Request->new(GET => $server_endpoint);
    $req->header('Content-type' => 'application/json');

    my $resp = $ua->request($req);
    if ($resp->is_success && $resp->code == 200) {
        my $response = $resp->decoded_content;

        my ($user_key, $session_key) = $response =~ /(.*);(.*)/;

        return [$user_key, $session_key];
    }  # filled
}  # filled

sub send_sms($$$) {
    my ($ua, $auth, $sendsms) = @_;

    my $server_endpoint = BASEURL . "sms";

    my $req = HTTP::Request->new(POST => $server_endpoint);

    # IMPORTANT: Not adding the ':' before 'user_key' and
    # 'Session_key' will result in perl to automatically rewrite the
    # headers as 'User-Key' and 'Session-Key', which is not supported
    # by our API.
    $req->header('Content_type' => 'application/json',
                 ':user_key' => $auth->[0],
                 ':Session_key' => $auth->[1]);
    $req->content(to_json($sendsms));  # filled: the page shows no body


    my $resp = $ua->request($req);
    if ($resp->is_success) {
        return from_json($resp->decoded_content);
    }  # filled
}  # filled

my $ua = LWP::UserAgent->new;

my $auth = authenticate($ua, $ENV{SMSREST_USERNAME}, $ENV{SMSREST_PASSWORD});

die ("Unable to authenticate\n") unless ($auth);

my $sendsms = {
    "message" => "Hello world!",
    "message_type" => MESSAGE_HIGH_QUALITY,
    "recipient" => ["+39349123456789"],
};  # filled

my $smssent = send_sms($ua, $auth, $sendsms);

# filled: the page ends here
print "SMS sent!\n" if ($smssent && $smssent->{result} eq "OK");
"""

NODE_QUICK_START = r"""var BASEURL = process.env.SMSREST_BASE_URL;
var request = require('request');

var MESSAGE_HIGH_QUALITY = "N";  // filled: as in the other languages' examples

/**  // filled
* Authenticates the user given it's username and password.  Callback
* is called when completed. If error is false, then an authentication
* object is passed to the callback as second parameter.
*/  // filled
function login(username, password, callback) {
    request({  // filled
        url: BASEURL + 'login?username=' + username + '&password=' + password,
        method: 'GET',
        callback: function (error, responseMeta, response) {
            if (!error && responseMeta.statusCode == 200) {
                var auth = response.split(';');
                callback(error, {
                    user_key : auth[0],
                    session_key : auth[1]
                });  // filled
            }  // filled
            else {
                callback(true);  // filled
            }  // filled
        }  // filled
    });  // filled
}  // filled

/**  // filled
* Sends an SMS message
*/  // filled
function sendSMS(auth, sendsms, callback) {
    request({  // filled
        url: BASEURL + 'sms',
        method: 'POST',
        headers: { 'user_key' : auth.user_key, 'Session_key' : auth.session_key },
        json: true,
        body:  sendsms,

        callback: function (error, responseMeta, response) {
            if (!error && responseMeta.statusCode == 201) {
                callback(response.result !== 'OK', response);
            }  // filled
            else {
                callback(true);  // filled
            }  // filled
        }  // filled
    });  // filled
}  // filled

var smsData = {
    "returnCredits": true,
    "recipient": [
        "+349123456789",  // filled: the page lost the numbers
    ],  // filled
    "scheduled_delivery_time": "20171223101010",
    "message": "Hello world!",
    "message_type": MESSAGE_HIGH_QUALITY
};  // filled

login(process.env.SMSREST_USERNAME, process.env.SMSREST_PASSWORD,
      function(error, auth) {
          if (!error) {
              sendSMS(auth, smsData,
                      function(error, data) {
                          if (error) {
                              console.log("An error occurred");
                          }  // filled
                          else {
                              console.log("SMS Sent!");
                          }  // filled
                      });  // filled
          }  // filled
    else {
              console.log("Unable to login");
          }  // filled
      });  // filled
"""


def _missing(program: str, check: list[str]) -> str | None:
    """Why ``program`` cannot run its quick start here, or ``None`` if it can."""
    if shutil.which(program) is None:
        return f"{program} is not installed"
    probe = subprocess.run(check, capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines() or ["?"]
        first = next((line for line in lines if "Can" in line), lines[0])
        return f"{program} lacks a module the quick start needs (no download here): {first}"
    return None


def test_perl_quick_start(sandbox: SandboxServer, tmp_path: Path) -> None:
    reason = _missing("perl", ["perl", "-MLWP::UserAgent", "-MJSON", "-e", "1"])
    if reason:
        pytest.skip(reason)
    script = tmp_path / "quickstart.pl"
    script.write_text(PERL_QUICK_START)

    result = subprocess.run(
        ["perl", str(script)],
        env=_env(sandbox, "UTC"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SMS sent!"
    [order] = sandbox.orders()
    assert order["recipients"] == ["+39349123456789"]
    # The ':' prefix keeps the documented spelling: no rewritten header was seen.
    assert sandbox.snapshot()["noncanonical_headers"] == []


def test_node_quick_start_transcription_is_valid_javascript(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    script = tmp_path / "quickstart.js"
    script.write_text(NODE_QUICK_START)

    result = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr


def test_node_quick_start_past_schedule_is_sent_at_once(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    reason = _missing("node", ["node", "-e", "require('request')"])
    if reason:
        pytest.skip(reason)
    script = tmp_path / "quickstart.js"
    script.write_text(NODE_QUICK_START)

    result = subprocess.run(
        ["node", str(script)],
        env=_env(sandbox, "UTC"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SMS Sent!"
    [order] = sandbox.orders()
    assert "sent at once" in order["schedule_note"]  # 2017-12-23 10:10:10 is long past
