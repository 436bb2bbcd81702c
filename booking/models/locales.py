"""The languages FairSlot ships, by catalog code.

booking.i18n names them; the database checks a reservation's language against this list
(migration 0006), which is why it lives beside the models.
"""

LOCALES = ("en", "es", "pt", "zh_Hans", "ht", "vi")
