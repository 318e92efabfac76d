/**
 * Structured logs (design §5): winston, JSON by default, one line per
 * event. Modules take the small `Logger` interface so they can be tested
 * without winston; secrets never reach a log call (callers pass names,
 * never key material or tokens).
 */
import winston from 'winston';

export interface Logger {
  info(message: string, meta?: object): void;
  warn(message: string, meta?: object): void;
  error(message: string, meta?: object): void;
  debug(message: string, meta?: object): void;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const logLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export function createLogger(level: LogLevel, format: 'json' | 'text' = 'json'): Logger {
  const logger = winston.createLogger({
    level,
    format:
      format === 'json'
        ? winston.format.combine(winston.format.timestamp(), winston.format.json())
        : winston.format.combine(winston.format.timestamp(), winston.format.simple()),
    // stderr: stdout stays free for command output.
    transports: [new winston.transports.Console({ stderrLevels: [...logLevels] })],
  });
  return {
    info: (m, meta) => logger.info(m, meta),
    warn: (m, meta) => logger.warn(m, meta),
    error: (m, meta) => logger.error(m, meta),
    debug: (m, meta) => logger.debug(m, meta),
  };
}
