/**
 * The drop zone for a checkpoint folder or .prts.zip archive, with "open an archive…" for
 * those who would rather choose the file: the Value and Embeddings tabs' picker and the
 * Sim tab's policy panel. What is dropped is kept for the session (useCheckpoints).
 */
import { useState, type ReactNode } from 'react';
import { FileButton } from '../../components/FileButton.tsx';
import { collectDropped } from '../../lib/fileIO.ts';
import { archiveCheckpointFiles, droppedCheckpointFiles, keepDroppedCheckpoint } from './checkpoints.ts';

export function CheckpointDrop({ testIdPrefix, onAdded, children }: {
  /** `ckpt` gives ckpt-dropzone, ckpt-archive-open, ckpt-archive-file and ckpt-drop-error. */
  testIdPrefix: string;
  /** Called with the new checkpoint's picker id (`dropped:<label>`). */
  onAdded?(id: string): void;
  /** What the zone says before its "open an archive…" button. */
  children: ReactNode;
}) {
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);

  const add = async (read: () => Promise<{ label: string; files: Record<string, Uint8Array> }>) => {
    setError(null);
    try {
      // Not `onAdded?.(await ...)`: an optional call skips its arguments when there is no callback.
      const id = await keepDroppedCheckpoint(read);
      onAdded?.(id);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const onDrop = async (e: React.DragEvent) => {
    e.preventDefault();
    setOver(false);
    // The entries must be taken before the handler's first await, while the drop's data is readable.
    const collected = collectDropped(e.dataTransfer.items);
    await add(async () => droppedCheckpointFiles(await collected));
  };

  return (
    <>
      <div
        className={`dropzone ${over ? 'over' : ''}`}
        data-testid={`${testIdPrefix}-dropzone`}
        onDragOver={(e) => (e.preventDefault(), setOver(true))}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        {children}{' '}
        <FileButton label="open an archive…" accept=".zip" testId={`${testIdPrefix}-archive-file`} buttonTestId={`${testIdPrefix}-archive-open`} onFiles={([f]) => void add(() => archiveCheckpointFiles(f))} />
      </div>
      {error && <p className="field-error" data-testid={`${testIdPrefix}-drop-error`}>{error}</p>}
    </>
  );
}
