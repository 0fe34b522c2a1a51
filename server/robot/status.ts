/**
 * What the bridge tells clients about the robot and itself: the hello on connect and the
 * telemetry stream. Pure functions of a snapshot, so they can be read (and changed)
 * without the connection and lease machinery.
 */
import type { Config } from '../config.ts';
import type { RobotInfo, RobotState } from '../drivers/types.ts';
import { PROTOCOL_VERSION } from './protocol.ts';
import { jointStepLimit } from './safety.ts';
import type { Role } from './connection.ts';

export interface BridgeSnapshot {
  estop: { latched: boolean; by: string | null };
  holdReason: string | null;
  holder: { id: string; role: Role } | null;
  lastSeq: number;
  driverAvailable: boolean;
  recording: unknown;
  clients: number;
}

export function helloMessage(
  cfg: Config,
  info: RobotInfo,
  version: string,
  conn: { id: string; role: Role },
  snap: Pick<BridgeSnapshot, 'estop' | 'holder'>,
  sendBufferCap: number,
) {
  const s = cfg.safety;
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    server: { name: 'prts-workbench', version },
    connectionId: conn.id,
    role: conn.role,
    controller: snap.holder?.id ?? null,
    robot: {
      name: info.name,
      driver: info.driver,
      controlHz: info.controlHz,
      jointNames: info.jointNames,
      jointLower: info.jointLower,
      jointUpper: info.jointUpper,
      jointMaxVel: info.jointMaxVel,
      gripperRange: info.gripperRange,
      supportsJointTarget: info.supportsJointTarget,
    },
    actionSpace: {
      ee_delta: {
        names: info.eeActionNames,
        low: [-s.maxEeStep, -s.maxEeStep, -s.maxEeStep, -s.maxEeRotStep, -s.maxEeRotStep, -s.maxEeRotStep, Math.min(...info.gripperRange)],
        high: [s.maxEeStep, s.maxEeStep, s.maxEeStep, s.maxEeRotStep, s.maxEeRotStep, s.maxEeRotStep, Math.max(...info.gripperRange)],
        units: 'metres and radians per control step; gripper absolute',
      },
      joint_target: info.supportsJointTarget
        ? { names: info.jointNames, low: info.jointLower, high: info.jointUpper, maxStep: info.jointNames.map((_, i) => jointStepLimit(i, info, s)) }
        : null,
    },
    workspace: { min: s.workspaceMin, max: s.workspaceMax },
    cameras: info.cameras.map((c, index) => ({ index, name: c.name, width: c.width, height: c.height, fps: Math.min(c.fps, cfg.cameraHz), format: 'rgb8' })),
    rates: { telemetryHz: cfg.telemetryHz, commandRateHz: s.commandRateHz, messageRateHz: s.messageRateHz, inboundBytesPerSec: s.inboundBytesPerSec, parseMsPerSec: s.parseMsPerSec },
    safety: { watchdogMs: s.watchdogMs, leaseTimeoutMs: s.leaseTimeoutMs, estop: snap.estop.latched },
    limits: { maxPayloadBytes: cfg.maxPayloadBytes, sendBufferCapBytes: sendBufferCap },
  };
}

export function telemetryMessage(seq: number, t: number, s: RobotState | null, snap: BridgeSnapshot): string {
  return JSON.stringify({
    type: 'telemetry',
    seq,
    t: Math.round(t * 10) / 10,
    q: s?.q ?? null,
    ee: s ? { pos: s.eePos, quat: s.eeQuat } : null,
    gripper: s?.gripper ?? null,
    moving: s?.moving ?? false,
    safety: {
      estop: snap.estop.latched,
      estopBy: snap.estop.by,
      holding: s?.holding ?? true,
      holdReason: snap.holdReason,
      driverAvailable: snap.driverAvailable,
    },
    lease: { holder: snap.holder?.id ?? null, role: snap.holder?.role ?? null },
    lastSeq: snap.lastSeq,
    recording: snap.recording,
    clients: snap.clients,
  });
}
