// `customercore export`: every customer matching the filters, streamed out as CSV (a header row
// of the contract's field names) or JSON lines, page by page, waiting for the output to drain.
import type { Customer, CustomerCore, FindCustomersInput } from '@customercore/client';

export type ExportFormat = 'csv' | 'jsonl';

const csvCell = (value: unknown) => {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
};

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(text)) resolve();
    else stream.once('drain', resolve);
  });
}

export async function exportCustomers(
  cc: CustomerCore,
  options: { format: ExportFormat; filters: FindCustomersInput; output: NodeJS.WritableStream },
): Promise<number> {
  let count = 0;
  let columns: string[] | undefined;
  for await (const customer of cc.customers.list(options.filters, { pageSize: 100 })) {
    const record = customer as Customer & Record<string, unknown>;
    if (options.format === 'jsonl') {
      await write(options.output, `${JSON.stringify(record)}\n`);
    } else {
      if (columns === undefined) {
        columns = Object.keys(record);
        await write(options.output, `${columns.join(',')}\n`);
      }
      await write(options.output, `${columns.map((column) => csvCell(record[column])).join(',')}\n`);
    }
    count++;
  }
  return count;
}
