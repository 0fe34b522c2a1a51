/**
 * The shared file chooser (src/ui/components/FileButton.tsx): its markup (the hidden input
 * the e2e tests set files on, with the options asked for), clearing the input after a
 * choice, and that no tab keeps a file input of its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, test } from 'vitest';
import { FileButton, takeFiles } from '../../../src/ui/components/FileButton.tsx';

const render = (props: Partial<Parameters<typeof FileButton>[0]>) => renderToStaticMarkup(createElement(FileButton, { label: 'Open…', onFiles: () => {}, ...props }));
const inputOf = (html: string) => html.match(/<input[^>]*>/)![0];

describe('FileButton', () => {
  test('a visible button and a hidden file input carrying the accept list and both test ids', () => {
    const html = render({ accept: '.zip', testId: 'x-file', buttonTestId: 'x-open', title: 'why' });
    expect(html).toMatch(/^<button type="button" title="why" data-testid="x-open">Open…<\/button>/);
    const input = inputOf(html);
    expect(input).toContain('type="file"');
    expect(input).toContain('accept=".zip"');
    expect(input).toContain('hidden=""');
    expect(input).toContain('data-testid="x-file"');
    expect(input).not.toMatch(/multiple|webkitdirectory/);
  });

  test('multiple files and folders are asked for only when wanted', () => {
    expect(inputOf(render({ multiple: true }))).toContain('multiple=""');
    expect(inputOf(render({ directory: true }))).toContain('webkitdirectory=""');
    expect(render({ disabled: true })).toMatch(/<button type="button" disabled=""/);
  });

  test('a choice gives its files in order and clears the input, so the same file can be chosen again', () => {
    const a = new File(['a'], 'a.json');
    const b = new File(['b'], 'b.json');
    const input = { files: [a, b], value: 'C:\\fakepath\\a.json' };
    expect(takeFiles(input)).toEqual([a, b]);
    expect(input.value).toBe('');
    const cancelled = { files: null, value: '' };
    expect(takeFiles(cancelled)).toEqual([]);
  });

  test('no tab has a file input of its own', () => {
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.tsx') ? [join(dir, e.name)] : []));
    const own = walk('src/ui').filter((f) => !f.endsWith('FileButton.tsx') && /type="file"|type: 'file'/.test(readFileSync(f, 'utf8')));
    expect(own).toEqual([]);
  });
});
