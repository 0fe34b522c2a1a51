/**
 * Server configuration: defaults, the JSON config file schema and the merge of CLI flags.
 * Everything a robot operator may need to tune for their hardware (limits, rates,
 * timeouts, topic names) lives here so that it is validated once at start: a typo in a
 * safety limit must stop the server, never silently fall back to a default.
 */
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { parseOptions, type OptionSpecs } from '../src/cli/args.ts';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const positive = finite.refine((v) => v > 0, 'must be > 0');
const vec3 = z.tuple([finite, finite, finite]);

export const SafetyConfigSchema = z
  .object({
    /** A controller that sends neither command nor heartbeat for this long gets the robot held. */
    watchdogMs: positive.default(200),
    /** The lease lapses when the controller has not renewed it (heartbeat or command) for this long. */
    leaseTimeoutMs: positive.default(1000),
    /** Largest end-effector translation per control step, metres (each axis). */
    maxEeStep: positive.default(0.02),
    /** Largest end-effector rotation per control step, radians (each axis). */
    maxEeRotStep: positive.default(0.1),
    /** Largest joint change per control step, radians; tightened further by each joint's velocity limit. */
    maxJointStep: positive.default(0.05),
    /** Workspace box for the end-effector position, metres, in the robot base frame. */
    workspaceMin: vec3.default([-0.6, -0.6, 0.0]),
    workspaceMax: vec3.default([0.9, 0.6, 1.2]),
    /** Motion commands per second a controller may send (token bucket, with `commandBurst`). */
    commandRateHz: positive.default(150),
    commandBurst: positive.default(30),
    /** Messages per second any connection may send before its messages are dropped. */
    messageRateHz: positive.default(300),
    messageBurst: positive.default(300),
    /** A connection that keeps flooding past its rate for this many dropped messages is closed. */
    floodCloseAfter: positive.default(600),
    /**
     * Bytes per second any connection may send (token bucket, with `inboundByteBurst`, which
     * is raised to maxPayloadBytes when smaller). Checked before a message is decoded or
     * parsed: an over-budget message is dropped unread and the connection's socket is not
     * read until its budget refills, so the kernel pushes back on the sender.
     */
    inboundBytesPerSec: positive.default(128 * 1024),
    inboundByteBurst: positive.default(128 * 1024),
    /**
     * Milliseconds per second of JSON parsing and validation any connection may cost (token
     * bucket). A controller at the full command rate costs about 2 ms/s.
     */
    parseMsPerSec: positive.default(20),
    parseBurstMs: positive.default(50),
    /** State older than this cannot be used to clamp a command, so commands are refused. */
    staleStateMs: positive.default(500),
  })
  .strict();

const topic = z.object({ name: z.string().regex(/^\/[A-Za-z0-9_/]+$/, 'must be a ROS topic name like /a/b'), type: z.string().min(3) }).strict();

export const RosbridgeConfigSchema = z
  .object({
    url: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').default('ws://127.0.0.1:9090'),
    jointNames: z.array(z.string().min(1)).min(1).default(['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6', 'joint7']),
    jointLower: z.array(finite).optional(),
    jointUpper: z.array(finite).optional(),
    jointMaxVel: z.array(positive).optional(),
    controlHz: positive.default(20),
    topics: z
      .object({
        jointState: topic.default({ name: '/joint_states', type: 'sensor_msgs/msg/JointState' }),
        eePose: topic.default({ name: '/prts/ee_pose', type: 'geometry_msgs/msg/PoseStamped' }),
        gripperState: topic.default({ name: '/prts/gripper_state', type: 'std_msgs/msg/Float64' }),
        eeDelta: topic.default({ name: '/prts/ee_delta', type: 'std_msgs/msg/Float64MultiArray' }),
        jointTarget: topic.default({ name: '/prts/joint_target', type: 'sensor_msgs/msg/JointState' }),
        gripper: topic.default({ name: '/prts/gripper', type: 'std_msgs/msg/Float64' }),
      })
      .strict()
      .default({
        jointState: { name: '/joint_states', type: 'sensor_msgs/msg/JointState' },
        eePose: { name: '/prts/ee_pose', type: 'geometry_msgs/msg/PoseStamped' },
        gripperState: { name: '/prts/gripper_state', type: 'std_msgs/msg/Float64' },
        eeDelta: { name: '/prts/ee_delta', type: 'std_msgs/msg/Float64MultiArray' },
        jointTarget: { name: '/prts/joint_target', type: 'sensor_msgs/msg/JointState' },
        gripper: { name: '/prts/gripper', type: 'std_msgs/msg/Float64' },
      }),
    services: z
      .object({
        hold: topic.default({ name: '/prts/hold', type: 'std_srvs/srv/Trigger' }),
        estop: topic.default({ name: '/prts/estop', type: 'std_srvs/srv/Trigger' }),
      })
      .strict()
      .default({
        hold: { name: '/prts/hold', type: 'std_srvs/srv/Trigger' },
        estop: { name: '/prts/estop', type: 'std_srvs/srv/Trigger' },
      }),
    reconnectBaseMs: positive.default(250),
    reconnectMaxMs: positive.default(10_000),
  })
  .strict();

export const ConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8787),
    dataDir: z.string().min(1).default('data'),
    distDir: z.string().min(1).default('dist'),
    /**
     * Read-only datasets that ship with the app (the demo run's); default: the demo folder
     * of the app being served (defaultBuiltinDir in datasets.ts).
     */
    builtinDatasetsDir: z.string().min(1).optional(),
    robot: z.enum(['sim', 'rosbridge', 'kinematic']).default('sim'),
    /** Operator token; generated at start when absent. At least 16 characters so it cannot be guessed. */
    token: z.string().min(16).optional(),
    /** Admin token (may take the lease over); generated at start when absent. */
    adminToken: z.string().min(16).optional(),
    /** Extra origins allowed besides the server's own http://127.0.0.1:port and http://localhost:port. */
    allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/]+$/, 'must be an origin like http://host:port')).default([]),
    maxPayloadBytes: z.number().int().min(1024).max(16 << 20).default(64 * 1024),
    /** Most simultaneous robot WebSocket connections; more are refused with 503 at the upgrade. */
    maxConnections: z.number().int().min(1).max(65535).default(256),
    /**
     * Unsent bytes a connection may have queued before it is closed as not reading.
     * Default: derived from the machine's memory and maxConnections (defaultSendBufferCap).
     */
    sendBufferCapBytes: z.number().int().min(16 * 1024).max(1 << 30).optional(),
    maxUploadBytes: z.number().int().min(1).default(4 * 1024 ** 3),
    telemetryHz: positive.default(30),
    cameraHz: positive.default(5),
    /** Audit log path (JSON lines); default <dataDir>/.prts/audit.jsonl. */
    auditLog: z.string().optional(),
    /** Dataset that teleop recordings go to when record_start names none. */
    recordDataset: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/).default('teleop'),
    safety: SafetyConfigSchema.default(SafetyConfigSchema.parse({})),
    rosbridge: RosbridgeConfigSchema.default(RosbridgeConfigSchema.parse({})),
    /** Seed for the sim driver's initial state. */
    seed: z.number().int().default(0),
    /** Sim task name passed to the sim environment, when it offers several. */
    simTask: z.string().optional(),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type SafetyConfig = z.infer<typeof SafetyConfigSchema>;
export type RosbridgeConfig = z.infer<typeof RosbridgeConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Turns zod issues into one line per problem, each naming the field. */
export function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

export function parseConfig(input: unknown): Config {
  const r = ConfigSchema.safeParse(input);
  if (!r.success) throw new Error(`invalid config: ${formatIssues(r.error)}`);
  return r.data;
}

export function loadConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The server's command-line flags; each overrides the config file, which overrides the defaults. */
export const SERVER_OPTIONS = {
  host: { type: 'string', metavar: 'H', help: 'bind address (default 127.0.0.1; anything else exposes the robot to the network)' },
  port: { type: 'int', min: 0, max: 65535, metavar: 'P', help: 'port (default 8787; 0 picks a free one)' },
  'data-dir': { type: 'string', metavar: 'D', help: 'datasets directory (default ./data)' },
  'dist-dir': { type: 'string', metavar: 'D', help: 'built app to serve (default ./dist)' },
  robot: { type: 'string', metavar: 'R', help: 'sim (default), rosbridge, or kinematic (a test driver)' },
  config: { type: 'string', metavar: 'F', help: 'JSON config file (see docs/server.md); flags override it' },
} as const satisfies OptionSpecs;

/** Throws ArgsError (naming the flag) on a bad command line. */
export function parseArgs(argv: string[]): { overrides: Record<string, unknown>; configPath?: string; help: boolean } {
  const { values: v, help } = parseOptions(SERVER_OPTIONS, argv);
  const given = { host: v.host, port: v.port, dataDir: v['data-dir'], distDir: v['dist-dir'], robot: v.robot };
  const overrides = Object.fromEntries(Object.entries(given).filter(([, x]) => x !== undefined));
  return { overrides, configPath: v.config, help };
}
