# ruff: noqa
# fmt: off
#
# The Python "Send an SMS message: Full example" of the provider's quick start
# (/work/shared/seed/quick-start.txt), transcribed as published so that the sandbox is
# checked against the provider's own client code. tests/test_seed_example.py runs it.
#
# What was changed, and nothing else:
#   - BASEURL and the credentials ("username", "password") come from the environment
#     variables SMSREST_BASE_URL, SMSREST_USERNAME and SMSREST_PASSWORD (set by the test)
#     instead of literals; that needs `import os`.
#   - Transcription gaps of the web page filled in:
#       * the missing `BASEURL = ...` and `MESSAGE_HIGH_QUALITY/MEDIUM/LOW = "N"/"L"/"LL"`
#         lines (the values of the other languages' examples on the same page);
#       * `r = requests.post("%ssms" % BASEURL, headers=headers, ...)` (the page shows
#         `r ="%ssms" % BASEURL,`);
#       * the braces `{ ... }` around the dict passed to sendSMS;
#       * the scheduled time `(datetime.datetime.now() + datetime.timedelta(minutes=5))`;
#       * `sys.exit(-1)` after "Unable to login..".
# pip install requests
import requests
import json
import sys
import datetime
import os

BASEURL = os.environ["SMSREST_BASE_URL"]

MESSAGE_HIGH_QUALITY = "N"
MESSAGE_MEDIUM_QUALITY = "L"
MESSAGE_LOW_QUALITY = "LL"

def json_serial(obj):
    """ JSON serializer for objects not serializable by default json code"""

    if isinstance(obj, datetime.datetime):
        serial = obj.isoformat()
        return serial

    raise TypeError ("Type not serializable")

def login(username, password):
    """ Authenticates the user given it's username and password. """
    """ Returns a couple (user_key, session_key) """
    r = requests.get("%slogin?username=%s&password=%s"
        % (BASEURL, username, password))

    if r.status_code != 200:
        return None

    user_key, session_key = r.text.split(';')
    return user_key, session_key

def sendSMS(auth, sendsms):
    """Sends an SMS"""

    headers = { 'user_key': auth[0],

                'Session_key': auth[1],
                'Content-type' : 'application/json' }

    r = requests.post("%ssms" % BASEURL,
                      headers=headers,
                      data=json.dumps(sendsms, default=json_serial))

    if r.status_code != 201:
        return None

    return json.loads(r.text)

if __name__ == "__main__":
    auth = login(os.environ["SMSREST_USERNAME"], os.environ["SMSREST_PASSWORD"])

    if not auth:
        print("Unable to login..")
        sys.exit(-1)

    sentSMS = sendSMS(auth,
        {
          "message" : "Hello world!",
          "message_type" : MESSAGE_HIGH_QUALITY,
          "returnCredits" : False,
          "recipient": ["+349123456789",],

          # Place here a custom sender if desired
          "sender": None,

          # Postpone the SMS sending by 5 minutes
          "scheduled_delivery_time" : (datetime.datetime.now() +
                                       datetime.timedelta(minutes=5))
        })

    if sentSMS['result'] == "OK":
        print("SMS sent!")
