"""Drills in the calendar feeds: a scheduled drill is an event for its trainee and game master."""
