"""Where payments live on the bot's web app."""

WEBHOOK_PATH = "/stripe/webhook"
SUCCESS_PATH = "/payments/success"
CANCEL_PATH = "/payments/cancelled"
SANDBOX_CHECKOUT_PATH = "/sandbox/checkout/{purchase_id}"
SANDBOX_PAY_PATH = "/sandbox/checkout/{purchase_id}/pay"
