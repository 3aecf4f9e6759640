// `node --import <this file>`: record the ES modules that the process loads (see record-loads.mjs).
import { register } from 'node:module';

register('./record-loads.mjs', import.meta.url);
