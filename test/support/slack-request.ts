// A slash command as Slack sends it to /slack/events: the form body, and the signature headers
// (HMAC-SHA256 of `v0:timestamp:body` with the signing secret), for tests that drive the real Bolt
// app over HTTP. The typed text arrives with &, < and > as entities, as Slack sends it.
import crypto from 'node:crypto';
import { escapeSlack } from '../../src/chat/escape.ts';

export function slashCommandBody(opts: { text: string; responseUrl: string; userId?: string; triggerId?: string }): string {
  const userId = opts.userId ?? 'U0ADMIN';
  return new URLSearchParams({
    token: 'deprecated-verification-token', team_id: 'T0FAKE', team_domain: 'ops', channel_id: 'C0OPS', channel_name: 'ops',
    user_id: userId, user_name: userId === 'U0ADMIN' ? 'ada' : 'mel', command: '/vpn', text: escapeSlack(opts.text),
    api_app_id: 'A0VPN', is_enterprise_install: 'false', response_url: opts.responseUrl, trigger_id: opts.triggerId ?? '1.1.abc',
  }).toString();
}

export function slackSignedHeaders(body: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = `v0=${crypto.createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-signature': signature, 'x-slack-request-timestamp': String(timestamp) };
}
