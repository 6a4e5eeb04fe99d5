// biome-ignore-all lint/suspicious/noTemplateCurlyInString: literal ${VAR} references are the subject under test
import assert from "node:assert/strict";
import { test } from "node:test";
import { isPlaceholder } from "./placeholder.js";

test("template and reference syntax is a placeholder", () => {
  for (const value of [
    "${VAR}",
    "${VAR:-default}",
    "${{ secrets.GITHUB_TOKEN }}",
    "${input:api-key}",
    "${env:OPENAI_API_KEY}",
    "${user_config.api_key}",
    "{{ api_key }}",
    "{{.Values.token}}",
    "$API_KEY",
    "$1",
    "%API_KEY%",
    "%s",
    "%+v",
    "{0}",
    "{password}",
    "@TOKEN@",
    "[YOUR_API_KEY]",
    "op://vault/item/field",
    "pass://work/github",
    "se://keyward/github",
    "process.env.GITHUB_TOKEN",
    "process.env['TOKEN']",
    "os.environ['TOKEN']",
    "os.getenv('TOKEN')",
    "import.meta.env.VITE_KEY",
    "ENV['TOKEN']",
  ]) {
    assert.ok(isPlaceholder(value), value);
  }
});

test("documentation filler is a placeholder", () => {
  for (const value of [
    "<your-key>",
    "<token>",
    "<YOUR_KEY>",
    "your_api_key",
    "your-api-key",
    "your-sendgrid-api-key",
    "YOUR_STRIPE_LIVE_SECRET_KEY",
    "YOUR_TOKEN",
    "yourSecretKey",
    "xxxx-xxxxxxxxx-xxxx",
    "XXXXXXXXXXXXXXXX",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "changeme",
    "CHANGE_ME",
    "replace-me",
    "***",
    "sk-****************",
    "REDACTED",
    "[REDACTED]",
    "placeholder",
    "dummy-token",
    "014df517-39d1-4453-b7b3-9930c563627c",
  ]) {
    assert.ok(isPlaceholder(value), value);
  }
});

test("literals, repeated characters, sequences and paths are placeholders", () => {
  for (const value of [
    "",
    "   ",
    "true",
    "False",
    "null",
    "password",
    "secret",
    "aaaa",
    "....",
    "0000000000000000",
    "abc00000000def",
    "abcdefghijklmnopqrstuvwxyz",
    "1234567890",
    "AB1C2defGHijkLMNo3PqQRstUvwxyzaBCDEfghh4ijklMN5opqrStuVWxyz",
    "somepassword",
    "foobar",
    "2YotnFZFEjr1zCsicMWpAA",
    "my-api-key",
    "The_Secret",
    "/Users/alice/.ssh/id_ed25519",
    "/etc/ssl/private/key.pem",
  ]) {
    assert.ok(isPlaceholder(value), JSON.stringify(value));
  }
});

test("random-looking values are not placeholders", () => {
  for (const value of [
    "hunter2",
    "s3cr%40t-Pa55",
    "Tr0ub4dor&3",
    "q83vEjRWeJ0mLq17zQWBuTSOoRi4A9spHcVY5nc",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQWBuTSOoRi",
    "a1b2c3d4e5f6",
    "correct-horse-battery-staple",
    "mypasswordIsLong7",
    "qT7vLp2XwZ9mRb4K",
  ]) {
    assert.ok(!isPlaceholder(value), value);
  }
});
