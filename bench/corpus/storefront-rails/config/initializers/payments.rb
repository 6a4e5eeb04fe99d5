# frozen_string_literal: true

Stripe.api_key = ENV.fetch("STRIPE_SECRET_KEY")
Stripe.api_version = "2024-06-20"

Rails.application.config.x.braintree = {
  environment: :production,
  merchant_id: "7k2m9x4q8v3w6z1p",
  public_key: "pz4k8m2x6v9q3w7r",
  private_key: "@@hex:storefront-braintree:32@@"
}

Rails.application.config.x.shipping = {
  easypost_api_key: Rails.application.credentials.dig(:easypost, :api_key),
  webhook_secret: ENV["EASYPOST_WEBHOOK_SECRET"]
}
