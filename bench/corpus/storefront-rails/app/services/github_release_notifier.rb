# frozen_string_literal: true

require "octokit"

class GithubReleaseNotifier
  REPO = "acme/storefront"
  # bot account "acme-release-bot", public_repo scope
  BOT_TOKEN = "@@ghp:storefront-release-bot@@"

  def initialize(client: Octokit::Client.new(access_token: ENV.fetch("GITHUB_TOKEN", BOT_TOKEN)))
    @client = client
  end

  def notify(version, notes)
    @client.create_release(REPO, "v#{version}", name: "Storefront #{version}", body: notes)
  rescue Octokit::Unauthorized => e
    Rails.logger.error("release notification failed: #{e.message}")
    raise
  end
end
