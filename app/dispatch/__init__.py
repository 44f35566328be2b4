"""The dispatcher: who responds to an alert, in which order, and what happens when nobody
answers."""
