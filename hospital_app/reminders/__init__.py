"""/reminders: the email reminders sent to editors with hospitals still to report (the
send-reminders command, reminders/sending.py), and the administrators' page that shows them."""
