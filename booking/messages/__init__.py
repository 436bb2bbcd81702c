"""Messages to residents: the outbox tables, rendering (text, HTML, .ics, QR) and delivery."""
