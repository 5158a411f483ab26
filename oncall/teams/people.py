"""How people are named on pages, in emails and in calendars."""


def display_name(user) -> str:
    """A person's full name, else their username."""
    return user.get_full_name() or user.get_username()
