// The package ships no type declarations; these cover the one function we use.
declare module 'fs-native-extensions' {
  /** Takes an exclusive (or shared) open-file-description lock; false when another holder has it. */
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean;
  const fsx: { tryLock: typeof tryLock };
  export default fsx;
}
