"""SLA: response-time clocks derived from the state machine's timestamps, a monitor that warns
before and reports breaches (the dispatcher alone escalates), legal deadlines of cases, and
reports."""
