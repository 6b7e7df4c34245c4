"""/entry: a clerk's day of data entry (the hospitals one reports for, and the day's state)."""
