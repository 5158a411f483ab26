"""Live pages as practice: the trainee's response to a real page during a shift."""
