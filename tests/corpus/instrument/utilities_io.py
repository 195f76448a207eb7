"""Alerts for the users (idiom: InstrumentScripts general/utilities/io.py).

`alert_on_error` asks the console only when told to (`prompt_user=True`); scripts call it
as `alert_on_error(msg, False)`, so it is a command a job can run.
"""

ALERTS = []


def alert_on_error(error_msg: str, prompt_user: bool):
    """Send an error message as an alert, and optionally ask whether to go on.

    Args:
        error_msg: the message for the error to alert users to.
        prompt_user: if False, carry on; if True, ask the user to continue or stop.
    """
    print(error_msg)
    ALERTS.append(error_msg)
    if prompt_user:
        while True:
            answer = input("Continue execution? [Y/N]\n").upper()
            if answer == "Y":
                break
            if answer == "N":
                raise KeyboardInterrupt
            print("Please type in 'Y' or 'N' as a response.")
