export { Store } from './store';
export type { Reader, Writer, Row, Migration, StoreOptions, StoreEvent, StoreStats, SqlValue } from './store';
export {
  StoreError,
  StoreLockedError,
  StoreCorruptError,
  StoreClosedError,
  StoreFailedError,
  StoreVersionError,
  TransactionError,
} from './errors';
export { locateWasm } from './sqljs';
export { diskJournalIo, type JournalIo } from './journal';
