"""Data-subject requests (GDPR 12-22, REGULATIONS.md section 9): who the controller is, a person's
data exported as one document, and the register of requests with their due dates."""
