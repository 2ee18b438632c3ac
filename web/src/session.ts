import { useEffect, useState } from 'react';
import { getSession, onSession, type Session } from './api';

export function useSession(): Session | null {
  const [s, setS] = useState(getSession());
  useEffect(() => onSession(setS), []);
  return s;
}
