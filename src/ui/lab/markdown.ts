// Lab Markdown to HTML that is safe to insert: marked renders it, DOMPurify
// removes every script, event handler and unsafe URL that a lab file's text
// could carry (raw HTML in Markdown included).
import DOMPurify from 'dompurify';
import { marked } from 'marked';

// Links in lab text open beside the lab, never in its frame.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Sanitised HTML for a lab's Markdown; links open in a new tab. */
export function renderMarkdown(md: string): string {
  const html = marked.parse(md, { async: false, gfm: true });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form', 'input', 'iframe'] });
}
