# frozen_string_literal: true

require "spec_helper"
ENV["RAILS_ENV"] ||= "test"
ENV["STRIPE_SECRET_KEY"] ||= "sk_test_123"
ENV["GITHUB_TOKEN"] ||= "test-token"
require_relative "../config/environment"
require "rspec/rails"
require "webmock/rspec"

WebMock.disable_net_connect!(allow_localhost: true)

RSpec.configure do |config|
  config.fixture_paths = [Rails.root.join("spec/fixtures")]
  config.use_transactional_fixtures = true
  config.infer_spec_type_from_file_location!

  config.before(:each, type: :request) do
    @admin = User.create!(email: "admin@example.com", password: "Passw0rd!", password_confirmation: "Passw0rd!")
  end
end
