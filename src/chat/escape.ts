// A common name is data, never markup. These turn plain text into text that each platform shows
// literally: no mention, no link, no formatting, whatever the name contains.
import { escapeMarkdown } from 'discord.js';

/**
 * Slack's rule: `&`, `<` and `>` (and only those) become entities. That alone disarms `<!channel>`,
 * `<@U123>` and `<http://x|y>`. Plain `@channel` text only becomes a mention when a message asks for
 * it (`link_names`, `parse: 'full'`); render-slack sends `link_names: false` and `parse: 'none'`, and
 * puts data in plain_text objects, so `*bold*` and backticks are not formatted either.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Discord: every markdown character gets a backslash (discord.js escapeMarkdown, backslashes
 * included), and so do `<` (mentions `<@id>`, `<#id>`, `<t:…>`), `>` (quotes) and `@` (`@everyone`,
 * `@here`), so they show as typed. Headings and lists only exist at the start of a line: pass
 * `startsLine: false` for text placed after other text, so `203.0.113.5` keeps its dots bare.
 * Mentions are also disabled on every message (`allowed_mentions: { parse: [] }`), so even a
 * missed case would ping nobody.
 */
export function escapeDiscord(text: string, { startsLine = true } = {}): string {
  const markdown = escapeMarkdown(text, { heading: startsLine, bulletedList: startsLine, numberedList: startsLine, maskedLink: true });
  return markdown.replace(/[<>@]/g, (c) => `\\${c}`);
}

/** Slack sends typed text (a slash command's arguments) with `&`, `<`, `>` as entities: undo that. */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
