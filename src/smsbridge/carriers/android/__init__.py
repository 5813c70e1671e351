"""An Android phone as a carrier: the "SMS Gateway for Android" app's API and webhooks."""
