/**
 * A button that opens the browser's file chooser: a visible button clicking a hidden
 * <input type="file">, since a file input cannot be styled. The test ids go on both, as
 * Playwright sets files on the input (setInputFiles) and clicks the button.
 */
import { useRef, type ReactNode } from 'react';

export interface FileButtonProps {
  label: ReactNode;
  /** The input's accept list, e.g. ".zip" or "application/json,.json". */
  accept?: string;
  multiple?: boolean;
  /** Choose a folder: every file under it, each with its webkitRelativePath. */
  directory?: boolean;
  onFiles(files: File[]): void;
  title?: string;
  disabled?: boolean;
  /** Test id of the hidden input. */
  testId?: string;
  /** Test id of the visible button. */
  buttonTestId?: string;
}

/**
 * The chosen files, clearing the input so that choosing the same file again (after fixing
 * it on disk, or after an error) fires another change.
 */
export function takeFiles(input: { files: ArrayLike<File> | null; value: string }): File[] {
  const files = input.files ? Array.from(input.files) : [];
  input.value = '';
  return files;
}

export function FileButton({ label, accept, multiple, directory, onFiles, title, disabled, testId, buttonTestId }: FileButtonProps) {
  const ref = useRef<HTMLInputElement>(null);
  // React has no typed prop for it; an unknown lowercase attribute is passed to the DOM as is.
  const folder = directory ? { webkitdirectory: '' } : {};
  return (
    <>
      <button type="button" title={title} disabled={disabled} onClick={() => ref.current?.click()} data-testid={buttonTestId}>
        {label}
      </button>
      <input
        ref={ref}
        type="file"
        accept={accept}
        multiple={multiple}
        {...folder}
        hidden
        data-testid={testId}
        onChange={(e) => {
          const files = takeFiles(e.target);
          if (files.length) onFiles(files);
        }}
      />
    </>
  );
}
